"""The five Springboard apps, each with a Python API and a Gradio page.

``python -m apps`` serves them all from one process (see ``apps.server``).
"""
