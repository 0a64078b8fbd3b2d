"""An audio device chooser: "System default" first, then the system's devices of one kind. The
choice is remembered by device name, which survives a replug where an index would not."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QWidget


class DeviceBox(QComboBox):
    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind  # "input" or "output"
        self._wanted = ""  # the remembered device: chosen once the list is filled
        self.setToolTip(f"{kind.capitalize()} device")

    def list_devices(self) -> str:
        """Fill the list (late, at the window's first show: listing loads PortAudio) and choose
        the remembered device, or the system default where it is gone. Returns '' or why the
        system listed none."""
        from mgr_desktop.audio.devices import AudioDeviceError, list_devices

        self.clear()
        self.addItem("System default", None)
        error = ""
        try:
            for d in list_devices(self.kind):
                self.addItem(f"{d.name} ({d.hostapi})", d.name)
        except AudioDeviceError as e:
            error = str(e)
        i = self.findData(self._wanted) if self._wanted else 0
        self.setCurrentIndex(max(0, i))
        return error

    def choose(self, name: str) -> None:
        """The remembered device ('' for the system default), chosen now if it is listed."""
        self._wanted = name
        if self.count():
            self.setCurrentIndex(max(0, self.findData(name) if name else 0))

    @property
    def chosen(self) -> str:
        """The device to remember: '' for the system default; the remembered one, unchanged,
        while the list is not filled yet."""
        return str(self.currentData() or "") if self.count() else self._wanted
