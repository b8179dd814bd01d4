"""BNG's public REST API, ``/api/v1``: one module per resource."""
