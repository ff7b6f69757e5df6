"""The parts a method is made of (part.py: Param, Part, Traits), one catalogue file per kind, the losses one file each,
and the parts registry (registry.py)."""
