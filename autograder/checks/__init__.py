"""The checks library: pure functions that judge a rebuilt Keras model (interface, layers,
graph, budget, device, quality, blocks, the plain twin) and return a ``CheckResult``.
They know no lab and no pipeline; a lab names them, the trusted scorer runs them."""
