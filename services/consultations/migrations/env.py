from civic.migrations import run_env
from services.consultations.models import metadata

run_env(metadata)
