#!/bin/bash
# StreamFunction's Handler (template.yaml). The Lambda Web Adapter layer's bootstrap
# (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) executes $LAMBDA_TASK_ROOT/$_HANDLER: this
# script, which starts the app under uvicorn on AWS_LWA_PORT (handler/stream_entry.py).
# `sam build` copies it into the function's package (infra/sam-build.mk).
export PYTHONPATH="${LAMBDA_TASK_ROOT}${PYTHONPATH:+:$PYTHONPATH}"
exec python -m handler.stream_entry
