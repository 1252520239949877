"""What every FaceGate app shares: encryption at rest, image intake, API conventions."""
