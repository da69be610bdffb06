"""The metric families: one module per family, each computing its KPIs from the contract's
tables and returning tidy pandas frames or plain numbers."""
