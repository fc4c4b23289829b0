"""Ordering: sponsors and distributors, orders and their quote, State co-funding, payments,
invoices. Emits ``ordering.order_confirmed`` (issuance prints, settlement books the money)."""
