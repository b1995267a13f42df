"""`civic asyncapi`: the event catalogue as an AsyncAPI document (see civic.asyncapi)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from civic.cli.common import EXIT_OK, say


def cmd_asyncapi(args) -> int:
    from civic import asyncapi

    document = asyncapi.build_document()
    if args.output and args.output.endswith((".yaml", ".yml")):
        import yaml

        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        say(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK
