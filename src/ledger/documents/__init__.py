"""The JSON documents the API answers, rendered from domain events and stored rows.

Pure code between the domain and the read side: commands answer with these documents
(an idempotent replay re-renders the first answer byte for byte), queries render stored rows
into them, projections store what they need. They import the domain only.
"""
