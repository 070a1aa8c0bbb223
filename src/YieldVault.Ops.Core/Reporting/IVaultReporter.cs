namespace YieldVault.Ops;

/// <summary>
/// How Core tells the user what it is doing. Core may call it from any thread; the cmdlet layer queues
/// the messages and writes them on the pipeline thread. Implementations must not block.
/// </summary>
public interface IVaultReporter
{
    void Verbose(string message);

    void Warning(string message);

    /// <param name="activityId">Stable id per activity (one per step, nested per host).</param>
    /// <param name="percent">0-100, or -1 when unknown.</param>
    void Progress(int activityId, string activity, string status, int percent, int parentActivityId = -1, bool completed = false);
}

/// <summary>A reporter that drops everything, for callers that do not need messages.</summary>
public sealed class NullReporter : IVaultReporter
{
    public static NullReporter Instance { get; } = new();

    public void Verbose(string message)
    {
    }

    public void Warning(string message)
    {
    }

    public void Progress(int activityId, string activity, string status, int percent, int parentActivityId = -1, bool completed = false)
    {
    }
}

/// <summary>
/// The reporter of the cmdlet call the current code runs for. It flows with async calls, so code deep
/// in Core (a connection that trusts a new host key) reports to the right cmdlet without threading a
/// reporter through every signature.
/// </summary>
public static class Reporting
{
    private static readonly System.Threading.AsyncLocal<IVaultReporter?> CurrentReporter = new();

    public static IVaultReporter Current => CurrentReporter.Value ?? NullReporter.Instance;

    /// <summary>Makes <paramref name="reporter"/> current for the calling async flow.</summary>
    public static void Use(IVaultReporter reporter) => CurrentReporter.Value = reporter;
}
