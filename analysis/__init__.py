"""Analysis shared by both models; never imports a simulator."""
