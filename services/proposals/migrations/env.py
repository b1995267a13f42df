from civic.migrations import run_env
from services.proposals.models import metadata

run_env(metadata)
