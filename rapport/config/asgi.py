import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
# WhiteNoise and file downloads stream from files with synchronous iterators; Django then
# buffers them for ASGI, which is what we want for these small responses.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)
application = get_asgi_application()
