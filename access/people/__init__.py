"""The people FaceGate knows: who they are, whether they consented, and the photos their face codes come from."""
