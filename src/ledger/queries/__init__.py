"""Read functions the API calls: SELECT only."""
