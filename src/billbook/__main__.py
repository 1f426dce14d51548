from billbook.cli.main import run

run()
