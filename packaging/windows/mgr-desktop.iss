; Inno Setup script for mgr-desktop. packaging/build.py runs:
;   iscc /DAppVersion=X.Y.Z /DSourceDir=dist\mgr-desktop /Odist packaging\windows\mgr-desktop.iss
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\mgr-desktop"
#endif

[Setup]
AppId={{6B1E6C1B-4A37-4B7E-9C55-6D0F3E5A8A21}
AppName=mgr-desktop
AppVersion={#AppVersion}
AppPublisher=mgr-desktop developers
DefaultDirName={autopf}\mgr-desktop
DefaultGroupName=mgr-desktop
UninstallDisplayIcon={app}\mgr-desktop.exe
OutputBaseFilename=mgr-desktop-{#AppVersion}-setup
SetupIconFile=mgr-desktop.ico
Compression=lzma2/fast
SolidCompression=no
ArchitecturesInstallIn64BitMode=x64compatible
ArchitecturesAllowed=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
WizardStyle=modern

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\mgr-desktop"; Filename: "{app}\mgr-desktop.exe"
Name: "{group}\Uninstall mgr-desktop"; Filename: "{uninstallexe}"
Name: "{autodesktop}\mgr-desktop"; Filename: "{app}\mgr-desktop.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\mgr-desktop.exe"; Description: "Start mgr-desktop"; Flags: nowait postinstall skipifsilent
