"""The people FaceGate knows: who they are, their consent, and the photos their face codes come from."""
