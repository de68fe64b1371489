"""The city's campaign view: cases, recommendations, evidence and exceedances across the units it sees."""
