# One image for every Continuum process; the command picks the app.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv UV_PYTHON_DOWNLOADS=never
WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.9"
COPY pyproject.toml uv.lock README.md ./
COPY services services
COPY gateway gateway
COPY reference reference
COPY migrations migrations
RUN uv sync --frozen --no-dev
ENV PATH=/opt/venv/bin:$PATH
EXPOSE 8080 8081 8082 8083
CMD ["uvicorn", "services.referrals.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8081"]
