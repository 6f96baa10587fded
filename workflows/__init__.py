"""Orchestration only: the deployment workflow, with no Kubernetes imports.

The workflow refers to activities by name, so this package never imports
`activities` (whose Kubernetes client cannot load inside the workflow sandbox).
"""
