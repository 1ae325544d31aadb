"""Print a stock report from data/stock.csv: every item, and which ones need reordering."""
import csv
import sys
from pathlib import Path


def load(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return [
            {**row, "quantity": int(row["quantity"]), "reorder_at": int(row["reorder_at"])}
            for row in csv.DictReader(f)
        ]


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "data" / "stock.csv"
    items = load(path)
    for item in items:
        flag = "  REORDER" if item["quantity"] <= item["reorder_at"] else ""
        print(f'{item["sku"]:<6} {item["name"]:<12} {item["quantity"]:>5}{flag}')
    return 0


if __name__ == "__main__":
    sys.exit(main())
