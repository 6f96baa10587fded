"""Operator command line for oamflow: deploy, plan, render, status, list, retry, cancel.

Run `python starter.py --help` for the commands.
"""

if __name__ == "__main__":
    import cli

    cli.main()
