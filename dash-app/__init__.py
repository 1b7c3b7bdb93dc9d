"""The shoplens dashboard (Plotly Dash): imported as ``shoplens_dash`` by :mod:`shoplens.dashboard`."""
