using System.Collections;
using System.Management.Automation;
using YieldVault.Ops.Hosting;

namespace YieldVault.Ops.Commands;

/// <summary>Describes one backend instance (local or over SSH) with the runbook's settings.</summary>
[Cmdlet(VerbsCommon.New, "VaultTarget", DefaultParameterSetName = LocalSet)]
[OutputType(typeof(VaultTarget))]
public sealed class NewVaultTargetCommand : VaultCmdlet
{
    private const string LocalSet = "Local";
    private const string SshSet = "Ssh";

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = SshSet)]
    [ValidateNotNullOrEmpty]
    public string HostName { get; set; } = "";

    [Parameter(ParameterSetName = SshSet)]
    [ValidateRange(1, 65535)]
    public int SshPort { get; set; } = RunbookDefaults.SshPort;

    [Parameter(ParameterSetName = SshSet)]
    [ValidateNotNullOrEmpty]
    public string? User { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    [ValidateNotNullOrEmpty]
    public string? KeyFile { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    [Credential]
    public PSCredential? Credential { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    [ValidateNotNullOrEmpty]
    public string? KnownHostsFile { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    [ValidateNotNullOrEmpty]
    public string? HostKeyFingerprint { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    public SwitchParameter TrustNewHostKey { get; set; }

    /// <summary>The host to hop through: [user@]host[:port], as ssh -J; 'none' ignores a ProxyJump of the ssh config.</summary>
    [Parameter(ParameterSetName = SshSet)]
    [ValidateNotNullOrEmpty]
    public string? JumpHost { get; set; }

    /// <summary>The ssh client config to apply (default ~/.ssh/config when it exists; 'none' for none).</summary>
    [Parameter(ParameterSetName = SshSet)]
    [ValidateNotNullOrEmpty]
    public string? SshConfigFile { get; set; }

    [Parameter]
    [ValidateRange(1, 600)]
    public int ConnectTimeoutSec { get; set; } = RunbookDefaults.ConnectTimeoutSec;

    [Parameter]
    [ValidateRange(1, 86400)]
    public int CommandTimeoutSec { get; set; } = RunbookDefaults.CommandTimeoutSec;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Environment { get; set; } = RunbookDefaults.Environment;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string AppPath { get; set; } = RunbookDefaults.AppPath;

    [Parameter]
    [ValidateRange(1, 65535)]
    public int Port { get; set; } = RunbookDefaults.Port;

    [Parameter]
    public ServiceManagerKind ServiceManager { get; set; } = RunbookDefaults.ServiceManager;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ServiceName { get; set; } = RunbookDefaults.ServiceName;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string EnvFile { get; set; } = RunbookDefaults.EnvFile;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string LogPath { get; set; } = RunbookDefaults.LogPath;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string BackupPath { get; set; } = RunbookDefaults.BackupPath;

    [Parameter]
    [AllowEmptyCollection]
    public string[] RequiredVariables { get; set; } = new string[0];

    /// <summary>The old spelling of <see cref="RequiredVariables"/> (the targets file's key): still accepted, with a warning.</summary>
    [Parameter(DontShow = true)]
    [ValidateNotNullOrEmpty]
    public string[] RequiredVariable { get; set; } = new string[0];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PublicUrl { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string StatePath { get; set; } = RunbookDefaults.StatePath;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Pm2Home { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? DockerHost { get; set; }

    [Parameter]
    public SwitchParameter UseSudo { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ReleasesPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Repository { get; set; }

    [Parameter]
    [ValidateRange(2, 100)]
    public int KeepReleases { get; set; } = 5;

    /// <summary>The largest artifact Invoke-VaultDeployment -Artifact fetches for this target, in MB.</summary>
    [Parameter]
    [ValidateRange(1, 102400)]
    public int MaxArtifactSizeMB { get; set; } = RunbookDefaults.MaxArtifactSizeMB;

    /// <summary>How long an artifact's download may take on the target's host, in seconds.</summary>
    [Parameter]
    [ValidateRange(5, 86400)]
    public int ArtifactTimeoutSec { get; set; } = RunbookDefaults.ArtifactTimeoutSec;

    [Parameter]
    public MigrationPreset MigrationPreset { get; set; } = MigrationPreset.Prisma;

    [Parameter]
    [ValidateNotNull]
    public Hashtable[] SmokeChecks { get; set; } = new Hashtable[0];

    [Parameter]
    public SmokePreset SmokePreset { get; set; } = SmokePreset.Runbook;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string HealthPath { get; set; } = RunbookDefaults.HealthPath;

    [Parameter]
    [AllowEmptyString]
    [ValidateNotNull]
    public string ReadyPath { get; set; } = RunbookDefaults.ReadyPath;

    [Parameter]
    [AllowEmptyString]
    [ValidateNotNull]
    public string VersionPath { get; set; } = RunbookDefaults.VersionPath;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public int[] HealthyStatusCodes { get; set; } = new int[0];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] HealthyValues { get; set; } = new string[0];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string HealthJsonPath { get; set; } = RunbookDefaults.HealthJsonPath;

    [Parameter]
    public HealthResponseKind HealthResponse { get; set; } = HealthResponseKind.Json;

    [Parameter]
    [AllowEmptyCollection]
    [ValidateNotNull]
    public string[] StartupMarkers { get; set; } = new string[0];

    [Parameter]
    public PackageManagerKind PackageManager { get; set; } = PackageManagerKind.Auto;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] BuildCommand { get; set; } = new string[0];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? EntryPoint { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AppSubdirectory { get; set; }

    /// <summary>Blue-green: the reverse proxy in front of the backend (Nginx makes deployments blue-green).</summary>
    [Parameter]
    public ProxyKind Proxy { get; set; } = ProxyKind.None;

    /// <summary>Blue-green: the file nginx includes with the upstream block YieldVault.Ops writes.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? UpstreamFile { get; set; }

    /// <summary>Blue-green: the upstream's name that nginx's proxy_pass uses.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? UpstreamName { get; set; }

    [Parameter]
    [ValidateRange(1, 65535)]
    public int BluePort { get; set; }

    [Parameter]
    [ValidateRange(1, 65535)]
    public int GreenPort { get; set; }

    [Parameter]
    [ValidateRange(1, 65535)]
    public int ProxyPort { get; set; } = 80;

    [Parameter]
    public ProxyReload ProxyReload { get; set; } = ProxyReload.Signal;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NginxConfig { get; set; }

    /// <summary>Swarm: StopFirst (single node, host-mode port) or StartFirst (where the network lets two tasks share the port).</summary>
    [Parameter]
    public SwarmUpdateOrder SwarmUpdateOrder { get; set; } = SwarmUpdateOrder.StopFirst;

    /// <summary>Swarm: how many tasks an update replaces at once.</summary>
    [Parameter]
    [ValidateRange(1, 100)]
    public int SwarmUpdateParallelism { get; set; } = 1;

    /// <summary>Swarm: seconds between one group of replaced tasks and the next.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int SwarmUpdateDelaySec { get; set; }

    /// <summary>Swarm: seconds the engine watches each new task for a failure before it counts as updated.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int SwarmMonitorSec { get; set; } = RunbookDefaults.SwarmMonitorSec;

    protected override void ProcessRecord()
    {
        var settings = new Hashtable(System.StringComparer.OrdinalIgnoreCase);
        foreach (var pair in MyInvocation.BoundParameters)
        {
            switch (pair.Key)
            {
                case nameof(Credential):
                case "Verbose" or "Debug" or "ErrorAction" or "WarningAction" or "InformationAction" or "ProgressAction"
                    or "ErrorVariable" or "WarningVariable" or "InformationVariable" or "OutVariable" or "OutBuffer" or "PipelineVariable":
                    break;
                case nameof(TrustNewHostKey):
                    settings[pair.Key] = TrustNewHostKey.IsPresent;
                    break;
                case nameof(UseSudo):
                    settings[pair.Key] = UseSudo.IsPresent;
                    break;
                case nameof(RequiredVariable):
                    if (MyInvocation.BoundParameters.ContainsKey(nameof(RequiredVariables)))
                    {
                        ThrowTerminatingError(ErrorRecords.Create(ErrorIds.TargetInvalid, ErrorCategory.InvalidArgument,
                            "-RequiredVariable is the old spelling of -RequiredVariables; give only -RequiredVariables.", Name,
                            "Remove -RequiredVariable."));
                    }

                    WriteWarning("-RequiredVariable is deprecated and will be removed: use -RequiredVariables, the same name as the targets file's key.");
                    settings[nameof(RequiredVariables)] = RequiredVariable;
                    break;
                case nameof(SmokeChecks):
                    settings[pair.Key] = SmokeChecks;
                    break;
                default:
                    settings[pair.Key] = pair.Value is PSObject wrapped ? wrapped.BaseObject : pair.Value;
                    break;
            }
        }

        var user = Credential?.UserName;
        if (user is not null && user.IndexOf('\\') >= 0)
        {
            user = user.Substring(user.IndexOf('\\') + 1);
        }

        try
        {
            var target = TargetBuilder.Build(settings, "New-VaultTarget", SessionState.Path.CurrentFileSystemLocation.ProviderPath,
                user, Credential?.Password, errorId: ErrorIds.TargetInvalid);
            WriteObject(target);
        }
        catch (VaultException ex)
        {
            ThrowVaultError(ex, Name);
        }
    }
}
