"""CSV rows, with the rows an unclosed quote would swallow read on their own.

Python's csv reads an unclosed quote as a field running on to the next quote (or the end of the
file), taking whole rows with it: a tester's upload merged two articles and reported "failed 0".
`csv_rows` finds such a row and resumes at the first swallowed one (`index/loaders.py` reports it).
"""

import csv
from collections.abc import Iterator
from itertools import islice


def csv_rows(lines: list[str], pos: int, delimiter: str, width: int) -> Iterator[list[str] | None]:
    """Records from line `pos` on, None for a row whose unclosed quote swallowed the rows after it.

    csv reads an unclosed quote as a field running on to the next quote, or to the end of the file,
    taking whole rows with it. Paragraphs inside a quoted text field are legitimate, so a record
    spanning lines is only a swallower when it is malformed (strict csv refuses it, or it has the
    wrong number of cells) and one of its later lines starts a row of the header's width (a sound
    one, or one with an unclosed quote of its own); reading goes on from that line.
    """
    while pos < len(lines):
        base = pos
        reader = csv.reader(islice(lines, base, None), delimiter=delimiter)
        for row in reader:
            start, pos = pos, base + reader.line_num
            resume = _swallowed_from(lines, start, pos, row, delimiter, width) if pos - start > 1 else None
            if resume is not None:
                yield None
                pos = resume
                break
            yield row
        else:
            return


def _swallowed_from(lines: list[str], start: int, end: int, row: list[str], delimiter: str, width: int) -> int | None:
    """The line where a swallowed row starts inside the record `lines[start:end]`, or None if the record is sound."""
    if len(row) == width:
        try:
            list(csv.reader(lines[start:end], delimiter=delimiter, strict=True))
            return None
        except csv.Error:
            pass
    return next((line for line in range(start + 1, end) if _starts_row(lines, line, delimiter, width)), None)


def _starts_row(lines: list[str], line: int, delimiter: str, width: int) -> bool:
    """Whether a row of the header's width starts at `lines[line]`: a well-formed one, or one whose own quote is unclosed."""
    reader = csv.reader(islice(lines, line, None), delimiter=delimiter, strict=True)
    try:
        row = next(reader)
        if len(row) == width and "".join(lines[line : line + reader.line_num]).count('"') % 2 == 0:
            return True
    except (csv.Error, StopIteration):
        pass
    # Read with quotes as plain characters; a cell ending in a quote it did not open closes a field
    # begun on an earlier line, so the line is that field's tail, not a row.
    cells = next(csv.reader([lines[line]], delimiter=delimiter, quoting=csv.QUOTE_NONE), [])
    return len(cells) == width and not any(c.strip().endswith('"') and not c.strip().startswith('"') for c in cells)


def delimiter_of(header_line: str) -> str:
    return max(",;\t|", key=header_line.count)
