"""Who may see and do what. For now: which incidents a person may see (`visibility`)."""
