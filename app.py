"""Entry point: `python app.py {ingest,documents,delete,ask,serve} --help`."""

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main())
