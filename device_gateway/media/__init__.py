"""Importing photos, videos and recordings from body cameras, phones and folders (see ``importer``)."""
