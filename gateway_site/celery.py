"""The Celery application (paperless' bootstrap): settings come from Django settings under the
CELERY_ namespace, tasks are discovered in each installed app's tasks.py.

Worker: `celery -A gateway_site worker` (make worker); beat: `celery -A gateway_site beat`
(make beat). Without REDIS_URL, settings make every task run eagerly in-process.
"""

from __future__ import annotations

import os

from celery import Celery

from gateway_site import celery_cluster

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
celery_cluster.register()  # the broker on a Redis Cluster (gwrediscluster://)

app = Celery("gateway_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
