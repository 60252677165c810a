"""ODE maths: solvers as values, time grids, the ODE log-likelihood and straightness."""
