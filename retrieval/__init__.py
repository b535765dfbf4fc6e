"""Chunking, embedding, index backends, ACL-filtered hybrid search, evaluation."""
