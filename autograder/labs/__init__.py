"""The labs, one module (or package) each, named like the lab's folder in ``labs/``.

Each defines ``SPEC``, a :class:`~kerascourse.autograder.core.spec.LabSpec`: its grade
cells, public defaults, ``public_data(seed)``, reference model and any lab-only grading
hook. :mod:`kerascourse.autograder.core.registry` finds them; see "How to add a lab" in
``autograder/README.md``.
"""
