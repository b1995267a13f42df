from civic.migrations import run_env
from services.openings.models import metadata

run_env(metadata)
