"""`bench report` and `bench export`: aggregate run folders into tables (Markdown, CSV, LaTeX), plots, the HTML page
and a paper comparison, or one tidy table of every run."""
