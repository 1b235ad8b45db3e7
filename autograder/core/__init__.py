"""What every lab is described with, and nothing of any lab: specs, registry, config,
results, the checkout. Labs (:mod:`kerascourse.autograder.labs`) import from here; nothing
here imports a lab."""
