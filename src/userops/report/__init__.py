"""The HTML report: its view-model (model.py); rendering lives in userops.render.html."""
