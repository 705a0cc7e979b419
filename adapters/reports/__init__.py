"""Reports: HTML pages with charts, CSV files, and the words of each language."""
