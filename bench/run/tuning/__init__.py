"""`bench tune`: the same random-search budget for every method (DomainBed's protocol, on long-tailed data).

    space.py    what a run's config searches: its method parts' hyper-parameters and the optimiser of what it
                trains, each with the distribution it declares (bench/parts/search.py); the draws of trial k
    study.py    one study per method and setting: its trials planned as runs, the trial best on validation,
                the record (.bench/tune/*.json) the report reads
    command.py  the command: trials through any executor, the choice, the winner and the defaults re-run with
                every requested seed (on SLURM a small job makes the choice when the trials end)
    records.py  the studies' records as the report and export read them: found under every folder, checked
"""
