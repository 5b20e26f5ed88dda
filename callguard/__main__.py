"""``python -m callguard``."""

# Under the Ctrl-C guard from here (the package's own import has its own): between the two,
# finding and loading callguard.cli.main was a KeyboardInterrupt traceback (hrev140).
from callguard.cli.interrupts import quiet_imports

with quiet_imports():
    from callguard.cli.main import main

main()
