"""Operator command line for oamflow.

Commands: deploy, plan, render, status, list, retry, cancel, approve and
codec-server. Run `python starter.py --help` for them, the exit codes and the
environment variables.
"""

if __name__ == "__main__":
    import cli

    cli.main()
