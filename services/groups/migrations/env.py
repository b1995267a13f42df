from civic.migrations import run_env
from services.groups.models import metadata

run_env(metadata)
