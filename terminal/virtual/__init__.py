"""Virtual devices for the demo and the test suite: a private pcscd with the vsmartcard ``vpcd`` reader driver
(:mod:`.pcscd`), virtual cards that speak the vpcd socket protocol (:mod:`.vpcd`), a receipt printer on loopback
(:mod:`.printer`) and a decoder of the ESC/POS bytes it receives (:mod:`.escpos_decode`).

They are part of the installed package because ``ruyi demo`` runs them (it must work from an installed wheel, not
only from a clone); the tests import them from here too."""
