"""Reading inputs, mapping columns, normalising orders, writing machine outputs."""
