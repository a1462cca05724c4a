"""Reading the finance service's hledger journal with hledger itself, in integer minor units.

`GET /admin/orgs/{org}/ledger/journal` answers an hledger journal: account and `commodity`
declarations, one entry per ledger transaction (`; tx:<id>`), and balance assertions at the end.
This module runs hledger on such a file and gives back what hledger understood, so a test can
compare it with the finance API:

- `check_strict(path)`: `hledger -f FILE check --strict` (every account and commodity declared,
  every entry balanced, every balance assertion true);
- `balances(path)`: `hledger -f FILE balance --flat --no-total -O json` as
  {(account, currency): minor units};
- `entries(path)`: `hledger -f FILE print -O json`, each entry's date, description, `tx` tag,
  postings and balance assertions in minor units;
- `style_problems(path)`: amounts written with other decimals than the currency has.

The numbers are read from hledger's JSON, which states each quantity exactly (a mantissa and a
number of decimal places), rather than from its CSV or text, whose cells are written in the
commodity's display style (decimal mark and digit groups vary per directive). This matters: with
`commodity 1,000 JPY` hledger reads `1,500 JPY` as 1.5 yen, and a CSV cell "1,500" would hide
that, while the JSON says 1500 with 3 places and the comparison fails as it should. A quantity
that is not a whole number of minor units is reported, never rounded.

`python3 hledger_check.py JOURNAL` prints the balances and any problems, for a person.
"""
import json
import shutil
import subprocess
import sys

# ISO 4217 minor-unit exponents, as Contracts' `CurrencyCode.minorUnitExponent` has them.
EXPONENTS = {**{code: 0 for code in ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF")},
             **{code: 3 for code in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")},
             "CLF": 4, "UYW": 4}


class HledgerError(Exception):
    """hledger is missing, refused the journal, or gave something this module cannot read."""


def decimals(currency):
    """How many decimal places the currency's minor unit has (2 unless listed in EXPONENTS)."""
    return EXPONENTS.get(currency, 2)


def binary():
    """The hledger executable, or an HledgerError saying how to get it."""
    path = shutil.which("hledger")
    if not path:
        raise HledgerError("hledger is not installed (ops/stack.sh bootstrap installs it; or: apt-get install hledger)")
    return path


def run(path, *arguments):
    """`hledger -f path ARGUMENTS…`: (exit status, stdout, stderr)."""
    done = subprocess.run([binary(), "-f", str(path), *arguments], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def check_strict(path):
    """(ok, what hledger said) for `hledger -f FILE check --strict`."""
    code, out, err = run(path, "check", "--strict")
    return code == 0, (out + err).strip()


def minor_units(amount):
    """One hledger JSON amount as (currency, integer minor units); HledgerError when it is not a
    whole number of minor units of its currency or carries a price."""
    currency = amount["acommodity"]
    if amount.get("aprice"):
        raise HledgerError(f"an amount in {currency} carries a price: {amount['aprice']}")
    quantity = amount["aquantity"]
    mantissa, places = int(quantity["decimalMantissa"]), int(quantity["decimalPlaces"])
    shift = decimals(currency) - places
    if shift >= 0:
        return currency, mantissa * 10 ** shift
    whole, rest = divmod(abs(mantissa), 10 ** -shift)
    if rest:
        raise HledgerError(f"{_decimal(mantissa, places)} {currency} is not a whole number of minor units "
                           f"({currency} has {decimals(currency)} decimals)")
    return currency, whole if mantissa >= 0 else -whole


def _decimal(mantissa, places):
    """`mantissa` scaled down by `places` as decimal text: (-1500, 3) is "-1.500"."""
    digits = str(abs(mantissa)).rjust(places + 1, "0")
    text = digits[:len(digits) - places] + ("." + digits[len(digits) - places:] if places else "")
    return ("-" if mantissa < 0 else "") + text


def _json(path, *arguments):
    code, out, err = run(path, *arguments, "-O", "json")
    if code != 0:
        raise HledgerError(f"hledger {' '.join(arguments)} failed ({code}): {(out + err).strip()[:1000]}")
    return json.loads(out)


def balances(path):
    """{(account, currency): balance in minor units} as `hledger balance --flat --no-total` sees
    the journal (accounts whose balance is zero are left out, as hledger leaves them out)."""
    report = _json(path, "balance", "--flat", "--no-total")
    found = {}
    for row in report[0]:
        account = row[0]
        for amount in row[3]:
            currency, value = minor_units(amount)
            if value:
                found[(account, currency)] = found.get((account, currency), 0) + value
    return found


def entries(path):
    """Every journal entry as hledger reads it: {"date", "description", "tx" (the `tx` tag or
    None), "postings": [(account, currency, minor)], "assertions": [(account, currency, minor)]}."""
    result = []
    for transaction in _json(path, "print"):
        tags = dict((name, value) for name, value in transaction.get("ttags", []))
        postings, assertions = [], []
        for posting in transaction["tpostings"]:
            for amount in posting["pamount"]:
                currency, value = minor_units(amount)
                if value:
                    postings.append((posting["paccount"], currency, value))
            assertion = posting.get("pbalanceassertion")
            if assertion:
                currency, value = minor_units(assertion["baamount"])
                assertions.append((posting["paccount"], currency, value))
        result.append({"date": transaction["tdate"], "description": transaction["tdescription"], "tx": tags.get("tx"),
                       "postings": postings, "assertions": assertions})
    return result


def style_problems(path):
    """Currencies whose amounts hledger displays with other decimals than the currency has (the
    journal's `commodity` directives say how many): ["JPY: 3 decimals, expected 0", …]."""
    seen = {}
    for transaction in _json(path, "print"):
        for posting in transaction["tpostings"]:
            for amount in posting["pamount"]:
                style = amount.get("astyle", {}).get("asprecision")
                if isinstance(style, int):
                    seen.setdefault(amount["acommodity"], set()).add(style)
    return [f"{currency}: {sorted(found)} decimals, expected {decimals(currency)}"
            for currency, found in sorted(seen.items()) if found != {decimals(currency)}]


def differences(got, expected, names=("journal", "expected")):
    """Where two {(account, currency): minor} maps disagree: ["income:revenue USD: journal -100, expected -90", …]."""
    return [f"{account} {currency}: {names[0]} {got.get((account, currency))}, {names[1]} {expected.get((account, currency))}"
            for account, currency in sorted(set(got) | set(expected)) if got.get((account, currency)) != expected.get((account, currency))]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: hledger_check.py JOURNAL")
    try:
        ok, said = check_strict(sys.argv[1])
        print(f"check --strict: {'ok' if ok else 'FAILED'}" + ("" if ok else f"\n{said}"))
        for problem in style_problems(sys.argv[1]):
            print("style:", problem)
        for (account, currency), value in sorted(balances(sys.argv[1]).items()):
            print(f"{account:40} {currency} {value:>16}")
    except HledgerError as error:
        sys.exit(f"error: {error}")
    sys.exit(0 if ok else 1)
