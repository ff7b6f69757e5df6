"""`bench report`: aggregate run folders into tables (Markdown, CSV, LaTeX), plots and a paper comparison."""
