from insr.cli import app

app()
