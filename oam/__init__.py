"""The application model: request schema, validation, rendering and the execution plan.

This package is pure: it performs no I/O and imports nothing that does, so the
deployment workflow can use it inside Temporal's sandbox. Text comes in, models,
manifests and plans come out.
"""

from oam.errors import InvalidRequest, Problem
from oam.loading import (
    LoadedApplication,
    load_application,
    parse_document,
    validate_document,
)
from oam.model import Application, Component, RetryPolicy, WorkflowStep
from oam.planning import Execution, Job, Plan, Step, Tier, build_plan, job_id
from oam.render import Manifest, render_application, render_component

__all__ = [
    "Application",
    "Component",
    "Execution",
    "InvalidRequest",
    "Job",
    "LoadedApplication",
    "Manifest",
    "Plan",
    "Problem",
    "RetryPolicy",
    "Step",
    "Tier",
    "WorkflowStep",
    "build_plan",
    "job_id",
    "load_application",
    "parse_document",
    "render_application",
    "render_component",
    "validate_document",
]
