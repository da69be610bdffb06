"""Where the tables come from: the data contract, reading and validating a data directory,
and the Dataset of the contract's tables."""
